// Validates OpenAPI documents (JSON or YAML files, or directories of them) with
// @seriousme/openapi-schema-validator against the official OpenAPI 3.1 schema, then resolves
// every $ref in each (a dangling one fails). Prints one line per document; exits 1 when any
// is invalid, 2 on a usage error.
//   node tools/openapi/validate.mjs FILE|DIR...
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: node validate.mjs FILE|DIR...");
  process.exit(2);
}
const files = [];
for (const a of args) {
  if (statSync(a).isDirectory()) {
    for (const f of readdirSync(a).sort())
      if (/\.(json|ya?ml)$/.test(f)) files.push(join(a, f));
  } else {
    files.push(a);
  }
}
let bad = 0;
for (const file of files) {
  const validator = new Validator();
  const res = await validator.validate(file);
  if (res.valid && validator.version !== "3.1") {
    res.valid = false;
    res.errors = `expected OpenAPI 3.1, found ${validator.version}`;
  }
  if (res.valid) {
    try {
      validator.resolveRefs();
    } catch (e) {
      res.valid = false;
      res.errors = `unresolvable $ref: ${e.message}`;
    }
  }
  if (res.valid) {
    console.log(`valid ${file}`);
  } else {
    bad++;
    console.log(`INVALID ${file}: ${JSON.stringify(res.errors, null, 1).slice(0, 4000)}`);
  }
}
console.log(`${files.length - bad} of ${files.length} valid`);
process.exit(bad ? 1 : 0);
