;; Reference types: the typed select instruction.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (select (result i32) (i32.const 1) (i32.const 2) (local.get 0)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
