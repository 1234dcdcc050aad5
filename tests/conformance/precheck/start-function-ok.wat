;; A start function that returns.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (global $g (mut i32) (i32.const 0))
  (func $s (global.set $g (i32.const 1)))
  (start $s)
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
