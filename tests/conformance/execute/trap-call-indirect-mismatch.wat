;; Traps on a call_indirect whose table entry has another signature.
(module
  (type $unit (func))
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (table 1 funcref)
  (func $g (param i32))
  (elem (i32.const 0) $g)
  (func (export "validate_block") (param i32 i32) (result i64)
    (call_indirect (type $unit) (i32.const 0))
    (i64.const 0xc00000100)))
