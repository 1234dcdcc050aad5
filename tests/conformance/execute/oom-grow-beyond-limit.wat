;; Grows memory by 3000 pages (over the default limit of 2080) and traps when that fails.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (if (i32.eq (memory.grow (i32.const 3000)) (i32.const -1)) (then unreachable))
    (i64.const 0xc00000100)))
