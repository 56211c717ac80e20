;;; Helpers of the Emacs editor tests (tests/editors/test_editors.py): a result plist written to
;;; $SOKUJI_RESULT as JSON when the test finishes.
(require 'json)
(setq debug-on-error nil)
(defvar sokuji-test--result nil)

(defun sokuji-test--put (key value)
  (setq sokuji-test--result (plist-put sokuji-test--result key value)))

(defun sokuji-test--wait (pred seconds what)
  "Wait up to SECONDS for PRED, handling the server's messages meanwhile."
  (let ((end (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05))
    (or (funcall pred) (error "timed out waiting for %s" what))))

(defun sokuji-test--finish (ok &optional err)
  (sokuji-test--put :ok (if ok t :json-false))
  (when err (sokuji-test--put :error err))
  (with-temp-file (getenv "SOKUJI_RESULT")
    (insert (json-encode sokuji-test--result)))
  (kill-emacs (if ok 0 3)))
