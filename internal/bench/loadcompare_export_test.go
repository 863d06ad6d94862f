package bench

// Internals the black-box tests of comparisons reach.
var (
	ParseProcParent = parseProcParent
	Median          = median
)
