;; Grows memory by 3000 pages, ignores the outcome and reports it as processed_downward_messages
;; (1 if memory.grow failed, 0 otherwise).
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32 i32) (result i64)
    (i32.store (i32.const 260) (i32.eq (memory.grow (i32.const 3000)) (i32.const -1)))
    (i64.const 0xc00000100)))
