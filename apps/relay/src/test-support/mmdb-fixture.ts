import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

// Debian's libmaxmind-db-writer-perl builds real MMDB files, as MaxMind's own tooling does.
const BUILD_SCRIPT = `
use strict; use warnings;
use MaxMind::DB::Writer::Tree;
my ($out, @pairs) = @ARGV;
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 24, database_type => 'Test-Country', languages => ['en'],
  description => { en => 'test' },
  map_key_type_callback => sub { $_[0] eq 'country' ? 'map' : 'utf8_string' },
  remove_reserved_networks => 0, alias_ipv6_to_ipv4 => 1,
);
while (my ($net, $code) = splice(@pairs, 0, 2)) {
  $tree->insert_network($net, { country => { iso_code => $code } });
}
open my $fh, '>:raw', $out or die "$out: $!";
$tree->write_tree($fh);
close $fh;
`;

/**
 * Writes a GeoIP2-shaped country MMDB (`{ country: { iso_code } }`) at `path`, mapping each
 * network (CIDR) to its country code.
 */
export function writeCountryMmdb(
  path: string,
  networks: Record<string, string>,
  dir: string,
): void {
  const script = join(dir, "build-mmdb.pl");
  writeFileSync(script, BUILD_SCRIPT);
  execFileSync("perl", [script, path, ...Object.entries(networks).flat()], { stdio: "pipe" });
}
