;; Calls two RFC-163 host functions inside `validate_block`: Pallas `mul` (2 * G) and
;; `msm` (1 * G + 1 * G, which runs arkworks' parallel MSM inside the sandboxed job), and
;; returns a ValidationResult whose head data is both results (130 bytes). Any non-zero status
;; traps. Valid only where the session's executor parameters hold
;; EnabledHostFunction(EccRfc163); elsewhere the imports are trap stubs.
(module
  (import "env" "ext_host_calls_pallas_mul_version_1"
    (func $pallas_mul (param i64 i64 i64) (result i32)))
  (import "env" "ext_host_calls_pallas_msm_version_1"
    (func $pallas_msm (param i64 i64 i64) (result i32)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  ;; G, the Pallas generator (-1, 2), ark-scale uncompressed: x then y (32 bytes each, LE), then
  ;; a flags byte (0: y "positive", not infinity): 65 bytes.
  (data (i32.const 1024) "\00\00\00\00\ed\30\2d\99\1b\f9\4c\09\fc\98\46\22\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\40\02\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  ;; The scalar of `mul` as Vec<u64>: length 1, then 2.
  (data (i32.const 2048) "\01\00\00\00\00\00\00\00\02\00\00\00\00\00\00\00")
  ;; The bases of `msm` as Vec<Affine>: length 2, then G twice.
  (data (i32.const 3072) "\02\00\00\00\00\00\00\00\00\00\00\00\ed\30\2d\99\1b\f9\4c\09\fc\98\46\22\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\40\02\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\ed\30\2d\99\1b\f9\4c\09\fc\98\46\22\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\40\02\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  ;; The scalars of `msm` as Vec<Fr>: length 2, then 1 twice.
  (data (i32.const 3328) "\02\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  ;; The ValidationResult at 4096: head data (compact length 130 = 09 02, then the two 65-byte
  ;; results at 4098 and 4163), no code upgrade, no messages, two zero u32s: 143 bytes.
  (data (i32.const 4096) "\09\02")
  (func (export "validate_block") (param i32 i32) (result i64)
    ;; Fat pointers are (length << 32) | pointer.
    (if (call $pallas_mul
          (i64.const 279172875264)
          (i64.const 68719478784)
          (i64.const 279172878338))
      (then unreachable))
    (if (call $pallas_msm
          (i64.const 592705489920)
          (i64.const 309237648640)
          (i64.const 279172878403))
      (then unreachable))
    (i64.const 614180327424)))
