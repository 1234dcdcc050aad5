;; Recurses without bound: exhausts the deterministic stack limit.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  (func $recurse (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func (export "validate_block") (param i32 i32) (result i64)
    (i64.extend_i32_u (call $recurse (i32.const 0)))))
