;; Recurses without bound: compiles and instantiates; executing it must hit the deterministic
;; stack limit (used by execution tests).
(module
  (memory (export "memory") 17)
  (func $recurse (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func (export "validate_block") (param i32 i32) (result i64)
    (i64.extend_i32_u (call $recurse (i32.const 0)))))
