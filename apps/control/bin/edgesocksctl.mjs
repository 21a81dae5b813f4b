#!/usr/bin/env node
// Placeholder: the edgesocksctl CLI is being written separately (issue 5).
process.stderr.write("edgesocksctl: not implemented yet\n");
process.exit(1);
