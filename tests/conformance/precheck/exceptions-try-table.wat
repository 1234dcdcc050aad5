;; Exceptions: a tag, throw and try_table.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (tag $e)
  (func (export "f") (block $h (try_table (catch $e $h) (throw $e))))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
