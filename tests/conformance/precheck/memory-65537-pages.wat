;; A memory of 65537 pages: over the 32-bit limit.
(module
  (memory (export "memory") 65537)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
