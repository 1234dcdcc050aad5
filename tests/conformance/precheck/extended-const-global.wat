;; Extended constant expressions: i32.add in a global initializer.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (global i32 (i32.add (i32.const 1) (i32.const 2)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
