//go:build amd64 && !purego

#include "textflag.h"

// Epilogue of 16 outputs held in two registers, stored at (DX): add the
// bias (Y14, Y15), then, by mode (DI), add the destination (accumulate = 1)
// or clamp at zero (storeReLU = 2), and store.
#define EPILOGUE2(lo, hi) \
	VADDPS  Y14, lo, lo \
	VADDPS  Y15, hi, hi \
	CMPQ    DI, $1 \
	JNE     3(PC) \
	VADDPS  (DX), lo, lo \
	VADDPS  32(DX), hi, hi \
	CMPQ    DI, $2 \
	JNE     4(PC) \
	VXORPS  Y13, Y13, Y13 \
	VMAXPS  Y13, lo, lo \
	VMAXPS  Y13, hi, hi \
	VMOVUPS lo, (DX) \
	VMOVUPS hi, 32(DX)

// func gemm4x16(a *float32, lda int, b *float32, k int, c *float32, ldc int, bias *float32, mode int)
//
// C[4×16] = A[4×k]·B[k×16] + bias, B packed (16 floats per k).
TEXT ·gemm4x16(SB), NOSPLIT, $0-64
	MOVQ a+0(FP), AX
	MOVQ lda+8(FP), R8
	SHLQ $2, R8
	MOVQ b+16(FP), BX
	MOVQ k+24(FP), CX
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R10
	SHLQ $2, R10
	MOVQ bias+48(FP), SI
	MOVQ mode+56(FP), DI
	LEAQ (AX)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JEQ   done4

loop4:
	VMOVUPS      (BX), Y8
	VMOVUPS      32(BX), Y9
	VBROADCASTSS (AX), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (R11), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R12), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (R13), Y10
	VFMADD231PS  Y8, Y10, Y6
	VFMADD231PS  Y9, Y10, Y7
	ADDQ         $4, AX
	ADDQ         $4, R11
	ADDQ         $4, R12
	ADDQ         $4, R13
	ADDQ         $64, BX
	DECQ         CX
	JNZ          loop4

done4:
	VMOVUPS (SI), Y14
	VMOVUPS 32(SI), Y15
	EPILOGUE2(Y0, Y1)
	ADDQ    R10, DX
	EPILOGUE2(Y2, Y3)
	ADDQ    R10, DX
	EPILOGUE2(Y4, Y5)
	ADDQ    R10, DX
	EPILOGUE2(Y6, Y7)
	VZEROUPPER
	RET

// func gemm1x64(a *float32, b *float32, panel int, k int, c *float32, bias *float32, mode int)
//
// C[1×64] = A[1×k]·B[k×64] + bias, B as four packed 16-column panels,
// panel floats apart.
TEXT ·gemm1x64(SB), NOSPLIT, $0-56
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ panel+16(FP), R9
	SHLQ $2, R9
	LEAQ (BX)(R9*1), R11
	LEAQ (R11)(R9*1), R12
	LEAQ (R12)(R9*1), R13
	MOVQ k+24(FP), CX
	MOVQ c+32(FP), DX
	MOVQ bias+40(FP), SI
	MOVQ mode+48(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JEQ   done1

loop1:
	VBROADCASTSS (AX), Y8
	VFMADD231PS  (BX), Y8, Y0
	VFMADD231PS  32(BX), Y8, Y1
	VFMADD231PS  (R11), Y8, Y2
	VFMADD231PS  32(R11), Y8, Y3
	VFMADD231PS  (R12), Y8, Y4
	VFMADD231PS  32(R12), Y8, Y5
	VFMADD231PS  (R13), Y8, Y6
	VFMADD231PS  32(R13), Y8, Y7
	ADDQ         $4, AX
	ADDQ         $64, BX
	ADDQ         $64, R11
	ADDQ         $64, R12
	ADDQ         $64, R13
	DECQ         CX
	JNZ          loop1

done1:
	VMOVUPS (SI), Y14
	VMOVUPS 32(SI), Y15
	EPILOGUE2(Y0, Y1)
	VMOVUPS 64(SI), Y14
	VMOVUPS 96(SI), Y15
	ADDQ    $64, DX
	EPILOGUE2(Y2, Y3)
	VMOVUPS 128(SI), Y14
	VMOVUPS 160(SI), Y15
	ADDQ    $64, DX
	EPILOGUE2(Y4, Y5)
	VMOVUPS 192(SI), Y14
	VMOVUPS 224(SI), Y15
	ADDQ    $64, DX
	EPILOGUE2(Y6, Y7)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
