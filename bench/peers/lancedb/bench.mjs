// LanceDB on the corpus of `engram bench scale --dump-corpus DIR`: the same
// memories, the same 512-d vectors of Engram's built-in model, the same
// queries. Builds a vector index (calibrated to recall@10 >= --recall
// against an exact scan), a full-text (BM25) index and a bitmap index on
// the user column, then times hybrid (vector + full text, RRF), vector-only
// and full-text-only searches, limit 10, unscoped as `engram bench scale`
// and prefiltered by user. Not run by CI; see README.md.
//
//   node bench.mjs --dump DIR [--db DIR] [--index ivf_pq|hnsw_sq] [--kinds hybrid,vector,...] [--rounds 3] [--json]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";

// LanceDB 0.39 warns on every full-text search that selects columns
// (a deprecation notice about `_score`); its native logger reads this
// variable when the module loads.
process.env.LANCEDB_LOG ??= "error";
const lancedb = await import("@lancedb/lancedb");

function parseArgs(argv) {
  const a = { dump: "", db: "", index: "ivf_pq", kinds: "", rounds: 3, recall: 0.95, recallQueries: 200, json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    switch (k) {
      case "--dump": a.dump = v(); break;
      case "--db": a.db = v(); break;
      case "--index": a.index = v(); break;
      case "--kinds": a.kinds = v(); break;
      case "--rounds": a.rounds = Number(v()); break;
      case "--recall": a.recall = Number(v()); break;
      case "--recall-queries": a.recallQueries = Number(v()); break;
      case "--json": a.json = true; break;
      case "--keep": a.keep = true; break;
      default: throw new Error(`unknown flag ${k}`);
    }
  }
  if (!a.dump) throw new Error("--dump DIR is required (engram bench scale --dump-corpus DIR)");
  if (!["ivf_pq", "hnsw_sq"].includes(a.index)) throw new Error("--index is ivf_pq or hnsw_sq");
  if (!(a.rounds >= 1)) throw new Error("--rounds must be at least 1");
  return a;
}

async function readJSONL(file) {
  const out = [];
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() !== "") out.push(JSON.parse(line));
  }
  return out;
}

// Nearest-rank percentiles, as Engram's bench.Summarise.
function summarise(ms) {
  const s = [...ms].sort((x, y) => x - y);
  const rank = (p) => s[Math.max(0, Math.min(Math.ceil(p * s.length - 1e-6) - 1, s.length - 1))];
  return { n: s.length, p50_ms: rank(0.5), p95_ms: rank(0.95), p99_ms: rank(0.99), max_ms: s[s.length - 1] };
}

// Percentile by percentile, the (upper) median of the rounds, as Engram's
// bench.MedianLatency.
function medianOf(rounds) {
  const med = (k) => rounds.map((r) => r[k]).sort((x, y) => x - y)[Math.floor(rounds.length / 2)];
  return { n: rounds.reduce((t, r) => t + r.n, 0), p50_ms: med("p50_ms"), p95_ms: med("p95_ms"), p99_ms: med("p99_ms"), max_ms: med("max_ms") };
}

function duBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? duBytes(p) : fs.statSync(p).size;
  }
  return total;
}

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const corpus = await readJSONL(path.join(args.dump, "corpus.jsonl"));
  const queries = await readJSONL(path.join(args.dump, "queries.jsonl"));
  const warm = queries.filter((q) => q.warmup);
  const timed = queries.filter((q) => !q.warmup);
  const log = (...m) => console.error(...m);
  log(`${corpus.length} memories, ${timed.length} timed queries (+${warm.length} warm-up)`);

  const dbDir = args.db || fs.mkdtempSync(path.join(os.tmpdir(), "lancedb-peer-"));
  const db = await lancedb.connect(dbDir);
  const rows = (lo, hi) => corpus.slice(lo, hi).map((m) => ({ id: m.id, user: m.user, text: m.text, vector: m.vector }));
  const batch = 10000;
  let t0 = performance.now();
  const table = await db.createTable("memories", rows(0, batch), { mode: "overwrite" });
  for (let lo = batch; lo < corpus.length; lo += batch) await table.add(rows(lo, lo + batch));
  const ingestS = (performance.now() - t0) / 1000;
  const rawBytes = duBytes(dbDir);

  // The vector index. IVF_PQ: sqrt(n) partitions, 512/16 = 32 sub-vectors
  // (LanceDB's defaults); HNSW_SQ: its defaults. Cosine, as Engram.
  const config = args.index === "ivf_pq"
    ? lancedb.Index.ivfPq({ distanceType: "cosine", numPartitions: Math.max(1, Math.round(Math.sqrt(corpus.length))), numSubVectors: 32 })
    : lancedb.Index.hnswSq({ distanceType: "cosine" });
  t0 = performance.now();
  await table.createIndex("vector", { config });
  const vectorIndexS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await table.createIndex("text", { config: lancedb.Index.fts() });
  const ftsIndexS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await table.createIndex("user", { config: lancedb.Index.bitmap() });
  const userIndexS = (performance.now() - t0) / 1000;
  const indexedBytes = duBytes(dbDir);

  // Calibrate the search-time knob on up to recallQueries of the timed
  // queries: the smallest setting whose recall@10 against an exact scan
  // reaches args.recall (Engram calibrates its HNSW beam the same way).
  const rq = timed.slice(0, args.recallQueries);
  const exact = [];
  for (const q of rq) {
    const r = await table.query().nearestTo(q.vector).distanceType("cosine").bypassVectorIndex().select(["id"]).limit(10).toArray();
    exact.push(new Set(r.map((x) => x.id)));
  }
  const settings = args.index === "ivf_pq"
    ? [[10, 1], [20, 1], [20, 5], [40, 5], [40, 10], [80, 10], [160, 20], [320, 40]].map(([nprobes, refine]) => ({ nprobes, refine }))
    : [10, 20, 40, 80, 160, 320, 640].map((ef) => ({ ef }));
  const tune = (q, s) => {
    q = q.distanceType("cosine");
    if (s.nprobes) q = q.nprobes(s.nprobes).refineFactor(s.refine);
    if (s.ef) q = q.ef(s.ef);
    return q;
  };
  let chosen = null;
  let recall = 0;
  const tried = [];
  for (const s of settings) {
    let hit = 0;
    for (let i = 0; i < rq.length; i++) {
      const r = await tune(table.query().nearestTo(rq[i].vector), s).select(["id"]).limit(10).toArray();
      for (const x of r) if (exact[i].has(x.id)) hit++;
    }
    recall = hit / (10 * rq.length);
    tried.push({ ...s, recall_at_10: recall });
    log(`calibration ${JSON.stringify(s)} recall@10 ${recall.toFixed(3)}`);
    chosen = s;
    if (recall >= args.recall) break;
  }

  const rrf = await lancedb.rerankers.RRFReranker.create();
  const cols = ["id", "user", "text"];
  const kinds = {
    hybrid: (q) => tune(table.query().nearestTo(q.vector), chosen).fullTextSearch(q.text, { columns: "text" }).rerank(rrf).select(cols).limit(10),
    vector: (q) => tune(table.query().nearestTo(q.vector), chosen).select(cols).limit(10),
    fts: (q) => table.query().fullTextSearch(q.text, { columns: "text" }).select(cols).limit(10),
  };
  const scoped = (f) => (q) => f(q).where(`user = ${sqlString(q.user)}`);
  const runs = {
    hybrid: kinds.hybrid, vector: kinds.vector, fts: kinds.fts,
    hybrid_by_user: scoped(kinds.hybrid), vector_by_user: scoped(kinds.vector), fts_by_user: scoped(kinds.fts),
  };
  if (args.kinds) {
    const want = args.kinds.split(",");
    for (const k of want) if (!(k in runs)) throw new Error(`--kinds: unknown ${k}; one of ${Object.keys(runs).join(",")}`);
    for (const k of Object.keys(runs)) if (!want.includes(k)) delete runs[k];
  }
  const latency = {};
  const rounds = {};
  let empty = 0;
  for (const [name, make] of Object.entries(runs)) {
    for (const q of warm) await make(q).toArray();
    rounds[name] = [];
    for (let r = 0; r < args.rounds; r++) {
      const ms = [];
      for (const q of timed) {
        const s = performance.now();
        const res = await make(q).toArray();
        ms.push(performance.now() - s);
        if (res.length === 0) empty++;
      }
      rounds[name].push(summarise(ms));
    }
    latency[name] = medianOf(rounds[name]);
    const l = latency[name];
    log(`${name.padEnd(15)} p50 ${l.p50_ms.toFixed(2)} ms  p95 ${l.p95_ms.toFixed(2)} ms  p99 ${l.p99_ms.toFixed(2)} ms  over ${l.n} searches`);
  }
  const out = {
    lancedb: JSON.parse(fs.readFileSync(new URL("./node_modules/@lancedb/lancedb/package.json", import.meta.url))).version,
    node: process.version, memories: corpus.length, queries: timed.length, rounds: args.rounds,
    index: args.index, search_setting: chosen, recall_at_10: recall, calibration: tried,
    ingest_s: ingestS, vector_index_s: vectorIndexS, fts_index_s: ftsIndexS, user_index_s: userIndexS,
    disk_bytes_data: rawBytes, disk_bytes_indexed: indexedBytes, empty_results: empty,
    latency, per_round: rounds,
  };
  if (!args.db && !args.keep) fs.rmSync(dbDir, { recursive: true, force: true });
  if (args.json) {
    console.log(JSON.stringify(out));
    return;
  }
  console.log(`LanceDB ${out.lancedb} (Node ${out.node}): ${out.memories} memories, ${out.queries} queries x ${out.rounds} rounds`);
  console.log(`table written in ${ingestS.toFixed(1)} s; ${args.index} index ${vectorIndexS.toFixed(1)} s, FTS index ${ftsIndexS.toFixed(1)} s, user bitmap ${userIndexS.toFixed(1)} s`);
  console.log(`disk: ${(rawBytes / 2 ** 20).toFixed(0)} MiB data, ${(indexedBytes / 2 ** 20).toFixed(0)} MiB with indexes`);
  console.log(`vector search ${JSON.stringify(chosen)}: recall@10 ${recall.toFixed(3)} against an exact scan (${rq.length} queries)`);
  for (const [name, l] of Object.entries(latency)) {
    console.log(`${name.padEnd(15)} p50 ${l.p50_ms.toFixed(2)} ms  p95 ${l.p95_ms.toFixed(2)} ms  p99 ${l.p99_ms.toFixed(2)} ms`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
