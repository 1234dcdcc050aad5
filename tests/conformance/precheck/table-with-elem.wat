;; A small table with an element segment and call_indirect.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (type $t (func))
  (table 2 funcref)
  (func $g)
  (elem (i32.const 0) $g $g)
  (func (export "f") (call_indirect (type $t) (i32.const 1)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
