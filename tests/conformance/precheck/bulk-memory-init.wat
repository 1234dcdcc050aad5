;; Bulk memory: a passive segment copied in with memory.init.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data $d "abc")
  (func (export "f") (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3)))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
