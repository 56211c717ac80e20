;;; Driven by tests/editors/test_editors.py: Emacs in batch mode with the README's snippet, eglot, a
;;; real `sokuji serve' and the embedded model. Writes what happened to $SOKUJI_RESULT.
(load (expand-file-name "emacs_helpers.el" (file-name-directory load-file-name)) nil t)

(defun sokuji-test--poll (pred seconds)
  (let ((end (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05))
    (funcall pred)))

(defun sokuji-test--open (file)
  (find-file (expand-file-name file (getenv "SOKUJI_WORKSPACE")))
  (python-mode)
  ;; batch mode runs no post-command-hook, so `eglot-ensure' never fires: start it directly,
  ;; with the contact sokuji.el registered in `eglot-server-programs'
  (unless (eglot-current-server)
    (apply #'eglot (eglot--guess-contact)))
  (unless (sokuji-test--poll (lambda () (eglot-managed-p)) 120)
    (error "eglot did not manage %s" file)))

(condition-case err
    (progn
      (load (getenv "SOKUJI_SNIPPET"))  ; the README's snippet, as a user pastes it
      (require 'project)
      ;; project.el 0.8 knows only VCS projects; the test workspace is a transient one
      (add-hook 'project-find-functions (lambda (_dir) (cons 'transient (getenv "SOKUJI_WORKSPACE"))))
      (sokuji-test--put :eglot (if (boundp 'eglot-version) eglot-version (or (ignore-errors (package-get-version)) "")))

      ;; 1. a completion from the model, through completion-at-point
      (sokuji-test--open "fib.py")
      (goto-char (point-min))
      (forward-line 3)
      (end-of-line)
      (let ((before (buffer-string)))
        (completion-at-point)
        (sokuji-test--put :after_completion (buffer-substring-no-properties (point-min) (point-max)))
        (unless (not (equal before (buffer-string)))
          (error "completion-at-point inserted nothing"))
        ;; eglot runs no item command: the accept is counted from the edit it sends at once
        (sokuji-test--put :completion_acceptance
                          (plist-get (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                                                      '(:command "sokuji.stats" :arguments []) :timeout 60)
                                     :acceptance)))

      ;; 2. syntax errors: the diagnostic, then the code action that fixes it
      (dolist (case '(("calc.py" . :after_fix) ("broken.py" . :after_broken_fix)))
        (sokuji-test--open (car case))
        (sokuji-test--poll (lambda () nil) 1.0)  ; the server publishes after a pause in edits
        (flymake-start)
        (unless (sokuji-test--poll (lambda () (flymake-diagnostics)) 30)
          (error "no diagnostics in %s" (car case)))
        (sokuji-test--put :diagnostics (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))
        (let ((before (buffer-string)))
          (eglot-code-actions (point-min) (point-max) "quickfix" t)
          (unless (sokuji-test--poll (lambda () (not (equal before (buffer-string)))) 120)
            (error "the fix was not applied to %s" (car case))))
        (sokuji-test--put (cdr case) (buffer-substring-no-properties (point-min) (point-max))))
      (sokuji-test--finish t))
  (error (sokuji-test--finish nil (format "%S" err))))
