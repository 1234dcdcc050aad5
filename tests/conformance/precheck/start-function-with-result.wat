;; Invalid: a start function with a result.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func $s (result i32) (i32.const 0))
  (start $s)
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
