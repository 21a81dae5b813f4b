#!/usr/bin/env -S node --max-semi-space-size=16
// Runs the TypeScript entry point through tsx's loader, so the relay ships as
// source and needs no build step. The shebang's larger young generation means
// fewer scavenges per connection (docs/performance.md); the deploy launcher,
// the container and the bench start Node with the same flag.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
