// The conformance table against the built Worker (Rust, workers-rs) in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startTableDoors } from "./front-doors.mjs";
import { cases, fixtures, runTable } from "./conformance-lib.mjs";

let env;
before(async () => {
  env = await startTableDoors((cfg) => startWorker({ AALGATE_CONFIG: JSON.stringify(cfg), ...fixtures.secret_env }));
});
after(() => env?.close());

test("conformance table in workerd (Rust Worker)", async () => {
  const failures = await runTable(env.table);
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ in workerd:\n${failures.join("\n")}`);
});
