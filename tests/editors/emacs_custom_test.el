;;; Driven by tests/editors/test_editors.py: Emacs in batch mode with the README's customisation
;;; snippet (its own `sokuji-command', settings and a TAB key), eglot, a real `sokuji serve'
;;; and the embedded model; sokuji is not on PATH. Keys are pressed with `execute-kbd-macro'.
;;; Writes what happened to $SOKUJI_RESULT.
(load (expand-file-name "emacs_helpers.el" (file-name-directory load-file-name)) nil t)

(defun sokuji-test--ghost ()
  "The ghost text as drawn: the after-string of sokuji's overlay."
  (let ((ovs (cl-remove-if-not (lambda (o) (overlay-get o 'sokuji)) (overlays-in (point-min) (point-max)))))
    (and ovs (overlay-get (car ovs) 'after-string)
         (substring-no-properties (overlay-get (car ovs) 'after-string)))))

(defun sokuji-test--events ()
  (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
    (buffer-substring-no-properties (point-min) (point-max))))

(condition-case err
    (progn
      (load (getenv "SOKUJI_SNIPPET"))  ; the README's snippet, as a user pastes it
      ;; then, for the test only, a generous time budget: what the model writes must not
      ;; depend on how busy the machine is
      (setq sokuji-initialization-options
            (append sokuji-initialization-options '(:timeBudgetMs 60000 :kvCachePersist :json-false :lineStartConfidence 0)))
      (require 'project)
      (add-hook 'project-find-functions (lambda (_dir) (cons 'transient (getenv "SOKUJI_WORKSPACE"))))
      (sokuji-test--put :sokuji_on_path (executable-find "sokuji"))
      (find-file (expand-file-name "point.py" (getenv "SOKUJI_WORKSPACE")))
      (python-mode)
      (apply #'eglot (eglot--guess-contact))
      (sokuji-test--wait (lambda () (and (eglot-managed-p) sokuji-mode)) 120 "eglot and sokuji-mode")
      (sokuji-test--put :command (vconcat (process-command (jsonrpc--process (eglot-current-server)))))

      ;; TAB with no suggestion: indentation, as before
      (goto-char (point-min)) (forward-line 2) (end-of-line)
      (sokuji-test--put :tab_without_suggestion (symbol-name (key-binding (kbd "TAB"))))
      ;; a suggestion shown: TAB accepts it all
      (execute-kbd-macro (kbd "self."))
      (sokuji-test--wait #'sokuji-test--ghost 180 "ghost text")
      (sokuji-test--put :ghost (sokuji-test--ghost))
      (sokuji-test--put :tab_with_suggestion (symbol-name (key-binding (kbd "TAB"))))
      (execute-kbd-macro (kbd "TAB"))
      (sokuji-test--put :ghost_after_tab (sokuji-test--ghost))
      (sokuji-test--put :after_tab (buffer-substring-no-properties
                                    (save-excursion (goto-char (point-min)) (forward-line 2) (point)) (point-max)))
      ;; what the server was told and what it did: the initialize request and its log lines
      (let ((events (sokuji-test--events)))
        (sokuji-test--put :init_options_sent
                          (and (string-match ":initializationOptions\\s-*\n?\\s-*(\\([^)]*\\))" events)
                               (match-string 1 events)))
        (let ((start 0) (generated nil))
          (while (string-match "generated=\\([0-9]+\\)" events start)
            (push (string-to-number (match-string 1 events)) generated)
            (setq start (match-end 0)))
          (sokuji-test--put :generated (vconcat (nreverse generated)))))
      (sokuji-test--finish t))
  (error (sokuji-test--finish nil (format "%S" err))))
