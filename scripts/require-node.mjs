// Runs before `npm start` and `npm test`: a network-facing proxy must not run
// on an end-of-life Node. The `node@24` devDependency puts Node 24 first on
// PATH for every npm script; this catches an install that skipped it.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `EdgeSocks needs Node.js >= 22.12 (Node 24 LTS is pinned by the node@24 devDependency), but found ${process.version} at ${process.execPath}. Run \`npm install\` so node_modules/.bin/node is Node 24, then retry.`,
  );
  process.exit(1);
}
