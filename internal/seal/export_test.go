package seal

// SealWith is Seal with the algorithm chosen by the test: it makes algorithm
// 2 envelopes in the standard profile. Algorithm 1 stays refused in FIPS
// 140-3 mode.
var SealWith = seal
