;; Bulk memory: a passive data segment, no bulk opcode.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data "passive bytes")
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
