;; Grows memory by 1000 pages, writes to the last page and returns an empty result.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (if (i32.eq (memory.grow (i32.const 1000)) (i32.const -1)) (then unreachable))
    (i32.store (i32.const 66650000) (i32.const 1))
    (i64.const 0xc00000100)))
