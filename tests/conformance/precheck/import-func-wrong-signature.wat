;; Imports a known host function with the wrong signature.
(module
  (import "env" "ext_hashing_blake2_256_version_1" (func (param i32) (result i32)))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
