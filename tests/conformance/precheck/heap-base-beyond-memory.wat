;; __heap_base points past the end of memory.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 2000000))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
