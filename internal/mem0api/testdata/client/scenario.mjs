// Drives the official mem0ai client against a running Engram server, as an
// application written for mem0 would after changing only its host. Run by
// internal/mem0api/client_test.go with:
//   MEM0_HOST      the server's origin
//   MEM0_API_KEY   an owner key of tenant A
//   MEM0_READ_KEY  a memories:read-only key of tenant A
//   MEM0_OTHER_KEY an owner key of tenant B
// Exits non-zero (with the failed assertion) when anything differs.
import assert from "node:assert/strict";
import MemoryClient, { AuthenticationError, MemoryError, MemoryNotFoundError, ValidationError } from "mem0ai";

const host = process.env.MEM0_HOST;
const client = new MemoryClient({ apiKey: process.env.MEM0_API_KEY, host });
const reader = new MemoryClient({ apiKey: process.env.MEM0_READ_KEY, host });
const other = new MemoryClient({ apiKey: process.env.MEM0_OTHER_KEY, host });

const step = (name) => console.log(`- ${name}`);
const rejectsWith = (p, cls, text) =>
  assert.rejects(p, (e) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    if (text) assert.match(e.message, text);
    return true;
  });

step("ping accepts the key (Authorization: Token)");
await client.ping();
await rejectsWith(new MemoryClient({ apiKey: "egm_nosuchkey_secret", host }).ping(), AuthenticationError);

step("add messages");
const added = await client.add(
  [
    { role: "user", content: "I live in Lisbon and I love grilled sardines" },
    { role: "assistant", content: "Noted: Lisbon, sardines" },
  ],
  { userId: "alice", metadata: { topic: "food" }, infer: false },
);
assert.equal(added.status, "SUCCEEDED");
assert.equal(added.results.length, 2);
for (const r of added.results) assert.equal(r.event, "ADD");
const lisbon = added.results[0].id;
assert.equal(added.results[0].memory, "I live in Lisbon and I love grilled sardines");

const work = await client.add([{ role: "user", content: "Alice works night shifts as a nurse" }], {
  userId: "alice",
  metadata: { topic: "work" },
  timestamp: 1577836800, // 2020-01-01
});
const nurse = work.results[0].id;
const third = await client.add([{ role: "user", content: "Alice sings in a choir on Sundays" }], { userId: "alice" });
const choir = third.results[0].id;
await client.add([{ role: "user", content: "Bob prefers green tea over coffee" }], { userId: "bob", agentId: "helper" });
const dup = await client.add([{ role: "user", content: "Bob prefers green tea over coffee" }], { userId: "bob", agentId: "helper" });
assert.equal(dup.results[0].event, "NOOP");

step("search with filters");
let found = await client.search("sardines", {
  filters: { AND: [{ user_id: "alice" }, { metadata: { topic: "food" } }] },
  topK: 5,
});
assert.ok(found.results.some((r) => r.id === lisbon), "sardines found");
for (const r of found.results) {
  assert.equal(r.userId, "alice");
  assert.equal(r.metadata.topic, "food");
  assert.equal(typeof r.score, "number");
}

found = await client.search("nurse", { filters: { AND: [{ user_id: "alice" }, { created_at: { lt: "2021-01-01T00:00:00Z" } }] } });
assert.deepEqual(found.results.map((r) => r.id), [nurse]);
found = await client.search("nurse", { filters: { AND: [{ user_id: "alice" }, { created_at: { gte: "2021-01-01T00:00:00Z" } }] } });
assert.equal(found.results.length, 0);
found = await client.search("tea", { filters: { user_id: "alice" } });
assert.equal(found.results.length, 0, "bob's memory is not alice's");
found = await client.search("tea", { filters: { OR: [{ user_id: "bob" }, { agent_id: "helper" }] } });
assert.equal(found.results.length, 1);
assert.equal(found.results[0].agentId, "helper");

step("getAll with page and pageSize");
const p1 = await client.getAll({ filters: { user_id: "alice" }, page: 1, pageSize: 2 });
assert.equal(p1.results.length, 2);
assert.ok(p1.next, "a next page");
assert.equal(p1.previous, null);
const p2 = await client.getAll({ filters: { user_id: "alice" }, page: 2, pageSize: 2 });
assert.equal(p2.results.length, 2);
assert.equal(p2.next, null);
assert.equal(p2.count, 4);
const aliceIds = [...p1.results, ...p2.results].map((m) => m.id);
assert.equal(new Set(aliceIds).size, 4);
for (const id of [lisbon, nurse, choir]) assert.ok(aliceIds.includes(id));

step("get");
const got = await client.get(lisbon);
assert.equal(got.memory, "I live in Lisbon and I love grilled sardines");
assert.equal(got.userId, "alice");
assert.equal(got.agentId, null);
assert.deepEqual(got.metadata, { topic: "food", role: "user" });
assert.ok(!Number.isNaN(Date.parse(got.createdAt)));

step("update and history");
const upd = await client.update(lisbon, { text: "I live in Porto and I love grilled sardines" });
assert.equal(upd.memory, "I live in Porto and I love grilled sardines");
assert.equal((await client.get(lisbon)).memory, "I live in Porto and I love grilled sardines");
const hist = await client.history(lisbon);
assert.ok(Array.isArray(hist), "history is an array");
assert.deepEqual(hist.map((h) => h.event), ["ADD", "UPDATE"]);
assert.equal(hist[1].oldMemory, "I live in Lisbon and I love grilled sardines");
assert.equal(hist[1].newMemory, "I live in Porto and I love grilled sardines");
assert.equal(hist[0].memoryId, lisbon);

step("scopes and tenants hold");
await rejectsWith(other.get(lisbon), MemoryNotFoundError);
await rejectsWith(other.update(lisbon, { text: "x" }), MemoryNotFoundError);
assert.equal((await other.search("sardines", { filters: { user_id: "alice" } })).results.length, 0);
assert.equal((await reader.get(lisbon)).id, lisbon);
await rejectsWith(reader.add([{ role: "user", content: "read-only keys cannot write" }], { userId: "alice" }), AuthenticationError, /forbidden/);
await rejectsWith(reader.delete(lisbon), AuthenticationError, /forbidden/);
await rejectsWith(reader.deleteAll({ userId: "alice" }), AuthenticationError, /forbidden/);

step("users (entities)");
let users = await client.users();
const names = users.results.map((u) => `${u.type}:${u.name}`).sort();
assert.deepEqual(names, ["agent:helper", "user:alice", "user:bob"]);
assert.equal(users.results.find((u) => u.name === "alice").totalMemories, 4);

step("batchUpdate and batchDelete");
await client.batchUpdate([{ memoryId: choir, text: "Alice sings in a choir on Saturdays" }]);
assert.equal((await client.get(choir)).memory, "Alice sings in a choir on Saturdays");
await client.batchDelete([choir]);
await rejectsWith(client.get(choir), MemoryNotFoundError);

step("delete");
const del = await client.delete(nurse);
assert.match(del.message, /deleted/);
await rejectsWith(client.get(nurse), MemoryNotFoundError);
assert.deepEqual((await client.history(nurse)).map((h) => h.event), ["ADD", "DELETE"]);

step("deleteAll of a user");
await client.deleteAll({ userId: "bob" });
assert.equal((await client.getAll({ filters: { user_id: "bob" } })).results.length, 0);
users = await client.users();
assert.deepEqual(users.results.map((u) => u.name).sort(), ["alice"]);

step("deleteUsers of a user");
await client.deleteUsers({ userId: "alice" });
assert.equal((await client.getAll({ filters: { user_id: "alice" } })).results.length, 0);
assert.equal((await client.users()).results.length, 0);

step("what Engram does not serve says so");
await rejectsWith(client.feedback({ memoryId: lisbon, feedback: "POSITIVE" }), MemoryError, /not_implemented/);
await rejectsWith(client.add([{ role: "user", content: "x" }], { appId: "shop" }), ValidationError, /app_id/);

console.log("mem0ai scenario passed");
