;;; Driven by tests/editors/test_next_edit_emacs.py: Emacs 28 in batch mode with the README's
;;; snippets (the quick start's and the next-edit keys'), eglot, a real `sokuji serve' and the
;;; embedded model (ghost text stays on). A rename typed at a definition is proposed at the
;;; other references; keys are pressed with `execute-kbd-macro', so the command loop's hooks run
;;; as for a user. Writes what happened to $SOKUJI_RESULT.
(load (expand-file-name "emacs_helpers.el" (file-name-directory load-file-name)) nil t)

(defun sokuji-test--open (file)
  (find-file (expand-file-name file (getenv "SOKUJI_WORKSPACE")))
  (python-mode)
  (unless (eglot-current-server)
    (apply #'eglot (eglot--guess-contact)))
  (sokuji-test--wait (lambda () (and (eglot-managed-p) sokuji-mode sokuji-next-edit-mode)) 120
                     (format "eglot and sokuji-next-edit-mode in %s" file)))

(defun sokuji-test--goto (line column)
  (goto-char (point-min)) (forward-line (1- line)) (move-to-column column))

(defun sokuji-test--keys (keys) (execute-kbd-macro (kbd keys)))

(defun sokuji-test--line (&optional n)
  (save-excursion (when n (goto-char (point-min)) (forward-line (1- n)))
                  (buffer-substring-no-properties (line-beginning-position) (line-end-position))))

(defun sokuji-test--settled ()
  "Nothing asked or in flight: next edits, and the ghost text."
  (not (or sokuji-next-edit--timer sokuji-next-edit--request sokuji--timer sokuji--request)))

(defun sokuji-test--wait-next-edit (what)
  (sokuji-test--wait (lambda () (and (sokuji-test--settled) (sokuji-test--next-edit))) 180 what)
  (sokuji-test--next-edit))

(defun sokuji-test--binding (keys)
  (let ((b (key-binding (kbd keys)))) (and b (symbolp b) (symbol-name b))))

(defun sokuji-test--point () (list (line-number-at-pos nil t) (current-column)))

(condition-case err
    (progn
      ;; cheap ghost text (2 CPU cores), and a generous time budget: what the model writes must
      ;; not depend on how busy the machine is
      (setq sokuji-initialization-options '(:maxTokens 8 :timeBudgetMs 60000 :kvCachePersist :json-false))
      (load (getenv "SOKUJI_SNIPPET"))  ; the README's snippets, as a user pastes them
      (require 'project)
      (add-hook 'project-find-functions (lambda (_dir) (cons 'transient (getenv "SOKUJI_WORKSPACE"))))
      (sokuji-test--put :delay sokuji-next-edit-delay)

      ;; 1. `width' renamed at the definition, key by key: proposed at line 2
      (sokuji-test--open "shapes.py")
      (sokuji-test--goto 1 (length "def area("))
      (sokuji-test--put :binding_before (sokuji-test--binding "M-n"))
      (sokuji-test--keys "M-d s i z e")
      (sokuji-test--put :typed (sokuji-test--line))
      (sokuji-test--put :first (sokuji-test--wait-next-edit "the 1st proposal"))
      (sokuji-test--put :binding_shown (sokuji-test--binding "M-n"))
      ;; 2. M-n jumps; M-n again applies, and the next of the series shows
      (sokuji-test--keys "M-n")
      (sokuji-test--put :after_jump (sokuji-test--point))
      (sokuji-test--keys "M-n")
      (sokuji-test--put :line2 (sokuji-test--line 2))
      (sokuji-test--put :second (sokuji-test--wait-next-edit "the 2nd proposal"))
      ;; the user's key (the snippet's TAB) does the same: jump with M-n, apply with TAB
      (sokuji-test--keys "M-n")
      (sokuji-test--put :after_jump2 (sokuji-test--point))
      (sokuji-test--put :tab_next_edit_only (list (sokuji-test--binding "TAB") (and (sokuji-current) t)))
      (sokuji-test--keys "TAB")
      (sokuji-test--put :renamed (buffer-string))
      (sokuji-test--wait #'sokuji-test--settled 180 "the request after the series")
      (sokuji-test--put :after_series (sokuji-test--next-edit))
      (sokuji-test--put :binding_after (sokuji-test--binding "M-n"))
      (sokuji-test--put :stats (sokuji-test--next-edit-stats))

      ;; 3. a second rename (`height', in a fresh copy: see the report on a second rename in
      ;;    one file): proposed; C-g dismisses it (ghost text shown: C-g takes that first)
      (sokuji-test--open "dims.py")
      (sokuji-test--goto 1 (length "def area(width, "))
      (sokuji-test--keys "M-d h")
      (sokuji-test--put :height (sokuji-test--wait-next-edit "the proposal for height"))
      (let ((text (buffer-string)))
        (when (sokuji-current)
          (sokuji-test--put :cg_with_ghost (sokuji-test--binding "C-g"))
          (sokuji-test--keys "C-g")
          (sokuji-test--put :cg_ghost_gone (null (sokuji-current)))
          (sokuji-test--put :cg_next_edit_kept (and (sokuji-test--next-edit) t)))
        (sokuji-test--put :cg_binding (sokuji-test--binding "C-g"))
        (sokuji-test--keys "C-g")
        (sokuji-test--put :dismissed (sokuji-test--next-edit))
        (accept-process-output nil (* 3 sokuji-next-edit-delay))
        (sokuji-test--put :still_dismissed (sokuji-test--next-edit))
        (sokuji-test--put :unchanged_by_dismiss (equal text (buffer-string))))

      ;; 4. ghost text and a next edit both shown, TAB on both: TAB takes the ghost text
      ;;    (the `h' typed again: the same proposal, and the same ghost text as before C-g)
      (sokuji-test--goto 1 (length "def area(width, h"))
      (sokuji-test--keys "DEL h")
      (sokuji-test--put :again (sokuji-test--wait-next-edit "the proposal for h again"))
      (unless (sokuji-current)
        (sokuji-test--keys "M-]")  ; ask for ghost text here
        (ignore-errors (sokuji-test--wait (lambda () (and (sokuji-test--settled) (sokuji-current))) 180 "ghost text")))
      (when (and (sokuji-current) (sokuji-test--next-edit))
        (let ((ghost (sokuji-current)))
          (sokuji-test--put :both (list ghost (sokuji-test--binding "TAB")))
          (sokuji-test--keys "TAB")
          (sokuji-test--put :after_tab_both (list (sokuji-test--line 1) (sokuji-test--line 2) (sokuji-test--next-edit)))))
      (sokuji-test--wait #'sokuji-test--settled 180 "the requests after TAB")
      (while (or (sokuji-current) (sokuji-test--next-edit)) (sokuji-test--keys "C-g"))
      (sokuji-test--put :tab_neither (list (sokuji-test--binding "TAB") (sokuji-test--next-edit) (sokuji-current)))

      ;; 5. off screen: the other reference is at the bottom of a long file
      (sokuji-test--open "long.py")
      (delete-other-windows)
      (set-window-start nil (point-min))
      (sokuji-test--put :window (list (window-body-height) (line-number-at-pos (window-start) t)))
      (sokuji-test--goto 1 (length "def scale("))
      (sokuji-test--keys "M-d w")
      (sokuji-test--put :far (sokuji-test--wait-next-edit "the proposal at the bottom"))
      (sokuji-test--put :edge_below (sokuji-test--edge))
      (sokuji-test--keys "M-n C-l")  ; jump; redisplay would scroll there (batch Emacs has none)
      (sokuji-test--put :edge_at_it (list (sokuji-test--edge) (line-number-at-pos (window-start) t)))
      (sokuji-test--keys "M-n")
      (sokuji-test--put :far_applied (sokuji-test--line 78))
      ;; and upwards: a use renamed at the bottom (the window shows it): the definition at the top
      (sokuji-test--open "tall.py")
      (sokuji-test--goto 78 (length "    return total * "))
      (sokuji-test--keys "C-l M-d w")
      (sokuji-test--put :near (sokuji-test--wait-next-edit "the proposal at the top"))
      (sokuji-test--put :edge_above (list (sokuji-test--edge) (line-number-at-pos (window-start) t)))

      ;; 6. a new edit elsewhere clears what is shown, and cancels the request in flight
      (let ((sent nil))
        (advice-add 'jsonrpc-connection-send :before (lambda (_conn &rest message) (push message sent))
                    '((name . sokuji-test--sent)))
        (sokuji-next-edit-request)  ; as after a pause
        (sokuji-test--goto 70 0)
        (sokuji-test--keys "#")
        (advice-remove 'jsonrpc-connection-send 'sokuji-test--sent)
        (sokuji-test--put :after_edit_elsewhere (list (sokuji-test--next-edit) (sokuji-test--edge)))
        (sokuji-test--put :cancel_sent (and (cl-find-if (lambda (m) (eq (plist-get m :method) :$/cancelRequest)) sent) t)))
      (sokuji-test--finish t))
  (error (sokuji-test--finish nil (format "%S" err))))
