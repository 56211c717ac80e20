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

;;; Next edits (emacs_next_edit_test.el)

(defun sokuji-test--next-edit-overlays (kind)
  "sokuji-next-edit's overlays of KIND (proposal or edge) in the buffer."
  (cl-remove-if-not (lambda (o) (eq (overlay-get o 'sokuji-next-edit) kind))
                    (overlays-in (point-min) (point-max))))

(defun sokuji-test--next-edit ()
  "The next edit as drawn, or nil: (MARKED LINE COLUMN NEW FACE COUNT): the text its
overlay marks, where (1-based line, 0-based column), the overlay's after-string and face."
  (let ((ovs (sokuji-test--next-edit-overlays 'proposal)))
    (when ovs
      (let ((o (car ovs)))
        (list (buffer-substring-no-properties (overlay-start o) (overlay-end o))
              (line-number-at-pos (overlay-start o) t)
              (save-excursion (goto-char (overlay-start o)) (current-column))
              (let ((s (overlay-get o 'after-string))) (and s (substring-no-properties s)))
              (symbol-name (overlay-get o 'face))
              (length ovs))))))

(defun sokuji-test--edge ()
  "The marker at the window's edge as drawn: (TEXT LINE), or nil."
  (let ((o (car (sokuji-test--next-edit-overlays 'edge))))
    (and o (list (substring-no-properties (overlay-get o 'after-string))
                 (line-number-at-pos (overlay-start o) t)))))

(defun sokuji-test--next-edit-stats ()
  "sokuji.stats' nextEdits counts, eglot's pending changes sent first."
  (eglot--signal-textDocument/didChange)
  (plist-get (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                              '(:command "sokuji.stats" :arguments []) :timeout 60)
             :nextEdits))
