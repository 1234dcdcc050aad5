;; An active element segment past the end of its table.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (table 1 funcref)
  (func $g)
  (elem (i32.const 1) $g)
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
