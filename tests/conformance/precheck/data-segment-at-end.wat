;; An active data segment ending exactly at the end of memory.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 1114108) "abcd")
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
