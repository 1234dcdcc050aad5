;; Traps on a load past the end of memory.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (i64.load (i32.const 0x7ffffff0))))
