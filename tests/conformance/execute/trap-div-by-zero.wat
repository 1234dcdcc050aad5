;; Traps on an integer division by zero.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func (export "validate_block") (param i32) (param $len i32) (result i64)
    (i64.extend_i32_u (i32.div_u (i32.const 1) (i32.sub (local.get $len) (local.get $len))))
    (drop)
    (i64.const 0xc00000100)))
