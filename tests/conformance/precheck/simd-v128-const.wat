;; SIMD: v128.const.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "f") (drop (v128.const i32x4 1 2 3 4)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
