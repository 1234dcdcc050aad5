;; Wide arithmetic: i64.add128.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "f") (result i64 i64) (i64.add128 (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
