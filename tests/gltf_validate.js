// Validate a glTF/GLB file with the Khronos glTF validator (npm package `gltf-validator`) and print
// its report as JSON. Usage: node tests/gltf_validate.js FILE (NODE_PATH must reach the package).
const fs = require("fs");
const validator = require("gltf-validator");
const data = new Uint8Array(fs.readFileSync(process.argv[2]));
validator.validateBytes(data, {maxIssues: 100})
  .then((report) => { console.log(JSON.stringify(report)); })
  .catch((error) => { console.error(String(error)); process.exit(1); });
