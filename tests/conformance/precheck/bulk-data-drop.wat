;; Bulk memory: data.drop of an active segment (needs the data count section).
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (data (i32.const 1024) "abc")
  (func (export "f") (data.drop 0))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
