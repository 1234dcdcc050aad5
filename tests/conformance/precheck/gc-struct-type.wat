;; GC: a struct type and struct.new.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (type $s (struct (field i32)))
  (func (export "f") (drop (struct.new $s (i32.const 1))))
  (func (export "validate_block") (param i32 i32) (result i64) (i64.const 0xc00000100)))
