// Runs the functions on the real PraaS runtime, locally: `npm test`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startLocal } from "praas/testing";

let local;
let connection;

before(async () => {
  local = await startLocal();
  const app = await local.deploy(".");
  const process = await local.client.createProcess(app.name, "test-1");
  connection = await process.connect();
});

after(async () => {
  await connection?.close();
  await local?.stop();
});

const json = (bytes) => JSON.parse(new TextDecoder().decode(bytes));

test("added todos are listed, with distinct ids", async () => {
  await Promise.all(["a", "b", "c"].map((title) => connection.invoke("add", { title })));
  const todos = json(await connection.invoke("list"));
  assert.deepEqual(todos.map((t) => t.id).sort(), [1, 2, 3]);
});
