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

const text = (bytes) => new TextDecoder().decode(bytes);

test("add counts, and the count lives in the process", async () => {
  assert.equal(text(await connection.invoke("add", "2")), "2");
  await Promise.all(Array.from({ length: 10 }, () => connection.invoke("add", "1")));
  assert.equal(text(await connection.invoke("get")), "12");
});
