// The Process examples on worker threads (see process_examples.ts).
import { exampleTests } from './process_examples.js'

exampleTests('thread')
