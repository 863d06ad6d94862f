package uselite

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/engram-memory/engram/internal/embed/uselite/internal/float16"
	"github.com/engram-memory/engram/internal/embed/uselite/internal/weightfile"
)

// The model files, written by ./convert and compiled into the binary.
var (
	//go:embed model/weights.json
	indexJSON []byte
	//go:embed model/weights.bin
	weightsBin string
	//go:embed model/vocab.tsv
	vocabTSV string
	//go:embed model/NOTICE
	noticeText string
	//go:embed model/LICENSE
	licenseText string
)

// Architecture constants (checked against the graph by ./convert).
const (
	vocabRows = 8002 // rows of the embedding table; the vocabulary uses the first 8000
	embDim    = 256  // token embedding and layer 0 width
	hidden    = 512  // layer 1 width and output dimension
	ffnDim    = 1536 // inner width of both feed-forward blocks
	heads     = 4
	timescale = 128 // sin and cos channels of the timing signal
	lnEpsilon = 1e-6
	l2Epsilon = 1e-12
)

type layerNorm struct{ scale, bias []float32 }

// layer is one transformer layer: pre-LayerNorm multi-head self-attention
// and a pre-LayerNorm ReLU feed-forward block, each with a residual.
type layer struct {
	width    int // d of the input (256 or 512)
	headDim  int
	qScale   float32
	attnNorm layerNorm
	qkv      linear  // width → 3·width, split into q, k, v
	out      linear  // width → 512
	residual *linear // layer 0 only: 256 → 512 projection of the input
	ffnNorm  layerNorm
	ffn1     linear // 512 → 1536, ReLU
	ffn2     linear // 1536 → 512
}

// weights is the whole model in float32, immutable once loaded.
type weights struct {
	embeddings []float32 // vocabRows × embDim
	invScales  []float32 // timescale
	layers     [2]layer
	pool       linear    // 512 → 512, then tanh
	scratch    sync.Pool // of *attnScratch, reused across calls
}

// loadWeights decodes the embedded blob, after checking it against its
// index (size and SHA-256), so that a truncated or mangled checkout fails
// loudly instead of embedding nonsense.
func loadWeights() (*weights, error) {
	var index weightfile.Index
	if err := json.Unmarshal(indexJSON, &index); err != nil {
		return nil, fmt.Errorf("uselite: weights index: %w", err)
	}
	if index.Format != weightfile.Format {
		return nil, fmt.Errorf("uselite: weights format %q, want %q", index.Format, weightfile.Format)
	}
	if int64(len(weightsBin)) != index.Size {
		return nil, fmt.Errorf("uselite: weights.bin has %d bytes, index says %d", len(weightsBin), index.Size)
	}
	sum := sha256.Sum256([]byte(weightsBin))
	if hex.EncodeToString(sum[:]) != index.SHA256 {
		return nil, fmt.Errorf("uselite: weights.bin does not match its SHA-256 in weights.json")
	}
	byName := make(map[string]weightfile.Tensor, len(index.Tensors))
	for _, t := range index.Tensors {
		byName[t.Name] = t
	}
	d := decoder{byName: byName}

	w := &weights{
		embeddings: d.floats("embeddings", vocabRows, embDim),
		invScales:  d.floats("timing/inverse_timescales", timescale),
		pool:       d.linear("pool/tanh", hidden, hidden),
		scratch:    sync.Pool{New: func() any { return new(attnScratch) }},
	}
	for i, width := range []int{embDim, hidden} {
		p := fmt.Sprintf("layer%d/", i)
		l := &w.layers[i]
		l.width = width
		l.headDim = width / heads
		l.qScale = float32(1 / math.Sqrt(float64(l.headDim)))
		l.attnNorm = d.norm(p+"attention/ln", width)
		l.qkv = d.linear(p+"attention/qkv", width, 3*width)
		l.out = d.linear(p+"attention/output", width, hidden)
		if i == 0 {
			r := d.linear(p+"residual", embDim, hidden)
			l.residual = &r
		}
		l.ffnNorm = d.norm(p+"ffn/ln", hidden)
		l.ffn1 = d.linear(p+"ffn/conv1", hidden, ffnDim)
		l.ffn2 = d.linear(p+"ffn/conv2", ffnDim, hidden)
	}
	if d.err != nil {
		return nil, d.err
	}
	return w, nil
}

// decoder reads tensors out of the blob, remembering the first error.
type decoder struct {
	byName map[string]weightfile.Tensor
	err    error
}

func (d *decoder) floats(name string, shape ...int) []float32 {
	if d.err != nil {
		return nil
	}
	t, ok := d.byName[name]
	if !ok {
		d.err = fmt.Errorf("uselite: weights.json has no tensor %s", name)
		return nil
	}
	if !slices.Equal(t.Shape, shape) {
		d.err = fmt.Errorf("uselite: tensor %s has shape %v, want %v", name, t.Shape, shape)
		return nil
	}
	size, err := t.Bytes()
	if err != nil || t.Offset < 0 || t.Offset+size > int64(len(weightsBin)) {
		d.err = fmt.Errorf("uselite: tensor %s lies outside weights.bin", name)
		return nil
	}
	raw := weightsBin[t.Offset : t.Offset+size]
	out := make([]float32, t.Elems())
	switch t.DType {
	case weightfile.F16:
		for i := range out {
			out[i] = float16.ToFloat32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
	case weightfile.F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32([]byte(raw[4*i : 4*i+4])))
		}
	}
	return out
}

func (d *decoder) norm(prefix string, width int) layerNorm {
	return layerNorm{scale: d.floats(prefix+"/scale", width), bias: d.floats(prefix+"/bias", width)}
}

// linear reads a kernel [in, out] and its bias.
func (d *decoder) linear(prefix string, in, out int) linear {
	k := d.floats(prefix+"/kernel", in, out)
	b := d.floats(prefix+"/bias", out)
	if d.err != nil {
		return linear{}
	}
	return newLinear(k, b, in, out, false)
}

// parseVocab reads vocab.tsv: line i is "piece<TAB>score" for token id i.
func parseVocab(tsv string) ([]string, []float64, error) {
	lines := bytes.Split([]byte(tsv), []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	pieces := make([]string, len(lines))
	scores := make([]float64, len(lines))
	for i, line := range lines {
		tab := bytes.LastIndexByte(line, '\t')
		if tab <= 0 {
			return nil, nil, fmt.Errorf("uselite: vocab.tsv line %d: no piece and score", i+1)
		}
		var err error
		pieces[i] = string(line[:tab])
		if scores[i], err = strconv.ParseFloat(string(line[tab+1:]), 64); err != nil {
			return nil, nil, fmt.Errorf("uselite: vocab.tsv line %d: %w", i+1, err)
		}
	}
	return pieces, scores, nil
}
