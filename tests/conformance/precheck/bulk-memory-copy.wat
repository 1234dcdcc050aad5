;; Bulk memory: memory.copy.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "f") (memory.copy (i32.const 0) (i32.const 16) (i32.const 16)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
