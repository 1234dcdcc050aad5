;; Typed function references: call_ref.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (type $t (func (result i32)))
  (func $g (type $t) (i32.const 1))
  (elem declare func $g)
  (func (export "f") (result i32) (call_ref $t (ref.func $g)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
