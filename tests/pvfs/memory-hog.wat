;; Grows its memory by the number of pages given as the first 4 bytes of the block data and
;; traps (unreachable) if memory.grow fails: exceeding MaxMemoryPages makes it invalid.
(module
  (memory (export "memory") 17)
  (global (export "__heap_base") i32 (i32.const 65536))
  ;; The block data starts 2 bytes in: an empty parent head and a 1-byte length precede it.
  (func (export "validate_block") (param $ptr i32) (param $len i32) (result i64)
    (if (i32.eq (memory.grow (i32.load offset=2 (local.get $ptr))) (i32.const -1))
      (then unreachable))
    ;; 12 zero bytes at 256 encode an empty ValidationResult.
    (i64.const 0xc00000100)))
